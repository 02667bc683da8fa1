"""Links, framing, the bridge service protocol, the driver registry and the emulated bridge."""
