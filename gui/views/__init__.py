"""The application's views: device, update, triage, lab bench, and the emulator panel."""
