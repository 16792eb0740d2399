"""Where the write path puts tables and the read path finds them: the one atomic writer and
reader (`storage`) and the durable progress of the write path (`ledger`)."""
