"""pyserial URL handlers that Bridge Lab adds (`emu://`); registered by name in `drivers.link`."""
