"""XMODEM-CRC codec vectors and the emulated Gecko Bootloader's receiver, sans I/O."""

from __future__ import annotations

import pytest

from bridgelab.drivers import xmodem as xm
from bridgelab.emulator.faults import parse_faults
from bridgelab.emulator.gecko_bootloader import (
    BYTE_TIMEOUT_S,
    C_PERIOD_S,
    EmulatedGeckoBootloader,
    State,
)
from tests.gbl_files import application_bytes, build_gbl


def test_crc16_check_value() -> None:
    # The CRC catalogue's check value of CRC-16/XMODEM.
    assert xm.crc16_xmodem(b"123456789") == 0x31C3
    assert xm.crc16(b"123456789") == 0x31C3
    data = application_bytes(1000)
    assert xm.crc16(data) == xm.crc16_xmodem(data)


def test_block_layout_and_padding() -> None:
    block = xm.encode_block(1, b"\x01\x02")
    assert len(block) == xm.BLOCK_BYTES == 133
    assert block[:3] == bytes([xm.SOH, 0x01, 0xFE])
    assert block[3:5] == b"\x01\x02" and set(block[5:131]) == {0xFF}
    assert int.from_bytes(block[131:], "big") == xm.crc16(block[3:131])
    assert xm.encode_block(256, b"")[1:3] == bytes([0x00, 0xFF])  # wraps at 255
    with pytest.raises(ValueError):
        xm.encode_block(1, bytes(129))


def _menu_then_upload(bootloader: EmulatedGeckoBootloader, now: float = 0.0) -> bytes:
    bootloader.enter(now)
    out = b"".join(o.data for o in bootloader.poll(now + 1))
    assert out.endswith(b"BL > ")
    return b"".join(o.data for o in bootloader.feed(b"1", now + 1))


def _answers(outputs: list) -> bytes:  # type: ignore[type-arg]
    return b"".join(o.data for o in outputs)


def test_receiver_acks_repeats_naks_and_wraps() -> None:
    gbl = build_gbl(application_bytes(300 * 128), address=0x4000)  # > 255 blocks: wraps
    bootloader = EmulatedGeckoBootloader()
    assert _menu_then_upload(bootloader).endswith(b"C")
    blocks = [gbl[i : i + 128] for i in range(0, len(gbl), 128)]
    now = 2.0
    for index, chunk in enumerate(blocks):
        packet = xm.encode_block(index + 1, chunk)
        if index == 3:  # a corrupted copy first: NAK, nothing written
            bad = bytearray(packet)
            bad[10] ^= 0x40
            assert _answers(bootloader.feed(bytes(bad), now)) == bytes([xm.NAK])
        assert _answers(bootloader.feed(packet, now)) == bytes([xm.ACK])
        if index == 5:  # the same block again (its ACK was lost): ACKed, not written twice
            assert _answers(bootloader.feed(packet, now)) == bytes([xm.ACK])
    assert bootloader.duplicates == 1 and bootloader.naks == 1
    out = _answers(bootloader.feed(bytes([xm.EOT]), now))
    assert out.startswith(bytes([xm.ACK]) + b"\r\nSerial upload complete\r\n")
    assert bootloader.received_stream[: len(gbl)] == gbl
    assert bootloader.flash[0x4000 : 0x4000 + 300 * 128] == application_bytes(300 * 128)
    assert bootloader.app_valid and bootloader.app_version == 0x01030000


def test_out_of_sequence_block_cancels() -> None:
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader)
    gbl = build_gbl(application_bytes(1000))
    out = _answers(bootloader.feed(xm.encode_block(3, gbl[:128]), 2.0))
    assert out.startswith(bytes([xm.CAN] * 3) + b"\r\nSerial upload aborted")
    assert out.endswith(b"BL > ") and not bootloader.app_valid


def test_a_file_that_is_not_a_gbl_is_cancelled_at_its_first_block() -> None:
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader)
    out = _answers(bootloader.feed(xm.encode_block(1, b"not a gbl".ljust(128, b"x")), 2.0))
    assert out.startswith(bytes([xm.CAN] * 3))
    assert b"error 0x01" in out and bootloader.state == State.MENU


def test_bad_crc_is_refused_at_the_end_and_nothing_is_programmed() -> None:
    gbl = bytearray(build_gbl(application_bytes(1000)))
    gbl[-1] ^= 0xFF  # the end tag's CRC
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader)
    for index in range(0, len(gbl), 128):
        out = _answers(
            bootloader.feed(xm.encode_block(index // 128 + 1, gbl[index : index + 128]), 2)
        )
    assert out.startswith(bytes([xm.CAN] * 3)) and b"error 0x05" in out
    assert set(bootloader.flash) == {0xFF} and not bootloader.app_valid


def test_eot_before_the_end_tag_is_an_aborted_upload() -> None:
    gbl = build_gbl(application_bytes(1000))
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader)
    _answers(bootloader.feed(xm.encode_block(1, gbl[:128]), 2.0))
    out = _answers(bootloader.feed(bytes([xm.EOT]), 2.0))
    assert out.startswith(bytes([xm.ACK]) + b"\r\nSerial upload aborted\r\nerror 0x06")


def test_timers_repeat_c_and_nak_a_block_cut_short() -> None:
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader, 0.0)
    assert _answers(bootloader.poll(1 + C_PERIOD_S)) == b"C"
    gbl = build_gbl(application_bytes(1000))
    bootloader.feed(xm.encode_block(1, gbl[:128])[:60], 3.0)  # half a block, then silence
    assert _answers(bootloader.poll(3.0 + BYTE_TIMEOUT_S / 2)) == b""
    assert _answers(bootloader.poll(3.0 + BYTE_TIMEOUT_S)) == bytes([xm.NAK])
    assert _answers(bootloader.feed(xm.encode_block(1, gbl[:128]), 5.0)) == bytes([xm.ACK])


def test_sender_cancel_and_run_without_application() -> None:
    bootloader = EmulatedGeckoBootloader()
    _menu_then_upload(bootloader)
    out = _answers(bootloader.feed(bytes([xm.CAN, xm.CAN]), 2.0))
    assert b"Serial upload aborted" in out and bootloader.state == State.MENU
    assert bootloader.feed(b"2", 3.0) == []  # no valid application: it restarts into itself
    assert _answers(bootloader.poll(4.0)).endswith(b"BL > ")


def test_reset_mid_upload_loses_the_upload() -> None:
    faults = parse_faults("reboot-at=512")
    bootloader = EmulatedGeckoBootloader(faults=faults)
    _menu_then_upload(bootloader)
    gbl = build_gbl(application_bytes(4000))
    for index in range(5):
        out = _answers(bootloader.feed(xm.encode_block(index + 1, gbl[index * 128 :][:128]), 2))
    assert out == b"" and bootloader.state == State.DOWN  # the fifth block crossed 512
    assert _answers(bootloader.poll(3.0)).endswith(b"BL > ")
    assert faults.reboot_at is None and not bootloader.app_valid


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_receiver_answers_the_same_however_the_line_cuts_the_bytes(seed: int) -> None:
    """The receiver takes the rest of a block in one slice: cut anywhere (one byte at a
    time, mid-header, two blocks in one read, noise and CAN between blocks), the answers,
    the flash and the counters are those of a byte-by-byte feed."""
    import random

    gbl = build_gbl(application_bytes(40 * 128), address=0x4000)
    blocks = [
        xm.encode_block(i + 1, gbl[i * 128 : (i + 1) * 128]) for i in range(-(-len(gbl) // 128))
    ]
    stream = bytearray()
    for index, packet in enumerate(blocks):
        if index == 5:  # a corrupted copy first: NAK
            bad = bytearray(packet)
            bad[70] ^= 0x01
            stream += bad
        if index == 9:
            stream += b"\x00\x43"  # noise between blocks: ignored
        stream += packet
        if index == 12:
            stream += packet  # a repeat (its ACK was lost): ACKed again, not written
        if index == 20:
            stream += bytes([xm.CAN])  # one CAN alone is not a cancel
    stream += bytes([xm.EOT])

    def run(cuts: list[int]) -> tuple[bytes, bytes, int, int, int]:
        bootloader = EmulatedGeckoBootloader(app_valid=False)
        _menu_then_upload(bootloader)
        answers = bytearray()
        start = 0
        for end in [*cuts, len(stream)]:
            answers += _answers(bootloader.feed(bytes(stream[start:end]), 2.0))
            start = end
        flash = bytes(bootloader.flash[0x4000 : 0x4000 + 40 * 128])
        return (
            bytes(answers),
            flash,
            bootloader.blocks_written,
            bootloader.duplicates,
            bootloader.naks,
        )

    byte_by_byte = run(list(range(1, len(stream))))
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), 60))
    assert run(cuts) == byte_by_byte
    assert run([]) == byte_by_byte  # all of it in one read
    answers, flash, written, duplicates, naks = byte_by_byte
    assert answers.count(bytes([xm.NAK])) == 1 and naks == 1 and duplicates == 1
    assert written == len(blocks) and flash == application_bytes(40 * 128)
    assert b"Serial upload complete" in answers
