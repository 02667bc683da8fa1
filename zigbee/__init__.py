"""ZigBee-only parts: ZCL OTA cluster codecs, the OTA client model and its timing, install codes.

Pure Python over bytes and a virtual clock; nothing here opens a port.
"""
