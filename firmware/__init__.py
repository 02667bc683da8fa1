"""OTA/GBCS firmware images: parse, build, sign, verify, trust store, compatibility policy.

Modules, each with one job (the format and the conventions: docs/firmware-format.md):

- `image`: `parse_image`, `load_image`, `build_image`, `OtaImage`, `OtaHeader`, `BodyForm`
- `gbl`: Silicon Labs GBL/EBL bootloader images: `parse_bootloader_image`, CRC-32 check
- `digest`: `manufacturer_image_sha256` (the GBCS Activate Firmware hash)
- `keys` / `signing`: P-256 key files and ids; `sign_image`
- `trust`: `TrustStore` (folder or in-memory) and `verify_signature`
- `compat`: `DeviceIdentity`, `DowngradeOverride`, `check_compatibility`
- `verify`: `assess_image`, the full pre-flight report the GUI and update engine use
- `errors`: the `FirmwareError` tree and the catalogue of stable codes

No Qt here; nothing is imported by this package file, so callers pay only for what they use.
"""
