"""OTA/GBCS firmware images: parse, build, sign, verify, trust store, compatibility policy."""
