"""pyserial URL handlers that Bridge Lab adds (`emu://`); registered by `drivers.link`."""
