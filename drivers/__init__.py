"""Links, framing, the bridge service protocol, the bridge client and the driver registry."""
