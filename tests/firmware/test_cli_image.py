"""`bridgelab image ...` and `bridgelab keys ...` as scripts and engineers use them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridgelab.cli import main

Capture = pytest.CaptureFixture[str]


def run_json(capsys: Capture, *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def keys(tmp_path: Path, capsys: Capture) -> dict[str, Any]:
    code, made = run_json(
        capsys, "keys", "generate", "--manufacturer", "0x121D", "--out", str(tmp_path / "keys")
    )
    assert code == 0
    return dict(made)


@pytest.fixture
def trust(tmp_path: Path, keys: dict[str, Any]) -> Path:
    folder = tmp_path / "trust"
    folder.mkdir()
    public = Path(keys["public_key_path"])
    (folder / public.name).write_bytes(public.read_bytes())
    return folder


@pytest.fixture
def signed(tmp_path: Path, keys: dict[str, Any], capsys: Capture) -> Path:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"bridge firmware v2 " * 100)
    out = tmp_path / "signed.ota"
    code = main(
        [
            "image", "build", "--manufacturer", "0x121D", "--image-type", "66",
            "--file-version", "0x00020000", "--hw-min", "0x0100", "--hw-max", "0x01FF",
            "--header-string", "bridge v2", "--payload", str(payload),
            "--sign-key", keys["private_key_path"], "-o", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    assert "signed by key " + keys["key_id"] in capsys.readouterr().out
    return out


DEVICE = [
    "--device", "manufacturer_code=0x121D", "--device", "image_type=66",
    "--device", "hardware_version=0x0105", "--device", "file_version=0x00010000",
]  # fmt: skip


def test_keys_generate_prints_paths_and_id_never_the_key(tmp_path: Path, capsys: Capture) -> None:
    assert main(["keys", "generate", "--manufacturer", "4637", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    private = next(tmp_path.glob("*.key"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert str(private) in out and "PRIVATE KEY" not in out
    assert private.read_text().split("\n")[1] not in out
    assert main(["keys", "id", str(private)]) == 0
    identifier = capsys.readouterr().out.strip()
    assert main(["keys", "id", str(private.with_suffix(".pem"))]) == 0
    assert capsys.readouterr().out.strip() == identifier and identifier in out


def test_inspect_dcc_sample_as_json(dcc_dir: Path, capsys: Capture) -> None:
    code, document = run_json(
        capsys, "image", "inspect", str(dcc_dir / "sr11.1-esme-update-firmware.ota")
    )
    assert code == 0
    shown = document["image"]
    expected = {
        "manufacturer_code": 0x121D,
        "image_type": 0,
        "file_version": 0xACDCACDC,
        "header_length": 60,
        "field_control": 4,
        "stack_version": 2,
        "header_string": "I am a GFI ESME[] firmware image",
        "total_image_size": 361,
        "min_hw_version": 0x1111,
        "max_hw_version": 0x1211,
        "destination_eui64": None,
        "security_credential_version": None,
        "body_form": "gbcs",
        "sub_elements": [],
        "manufacturer_image_size": 235,
    }
    assert {name: shown[name] for name in expected} == expected
    assert shown["manufacturer_image_sha256"].startswith("7542f475e3f12eae")
    assert shown["signature"]["present"] is True
    assert shown["signature"]["algorithm"] == "ecdsa-p256-sha256"
    assert shown["signature"]["signer"] is None


def test_inspect_names_the_signer_with_a_trust_store(
    signed: Path, trust: Path, keys: dict[str, Any], capsys: Capture
) -> None:
    assert main(["image", "inspect", str(signed), "--trust", str(trust)]) == 0
    out = capsys.readouterr().out
    assert "Manufacturer code    0x121D" in out
    assert "File version         0.2.0 (0x00020000)" in out, "as engineers say it, and in hex"
    assert "Hardware versions    0x0100 to 0x01FF" in out
    assert f"signed by key {keys['key_id']}" in out


def test_inspect_dcc_sample_with_a_store_reports_signer_unknown(
    dcc_dir: Path, trust: Path, capsys: Capture
) -> None:
    sample = str(dcc_dir / "sr11.1-esme-update-firmware.ota")
    code, document = run_json(capsys, "image", "inspect", sample, "--trust", str(trust))
    shown = document["image"]
    assert code == 0
    # The store holds a 121D key, but not the DCC's: the signature cannot be matched.
    assert shown["signature"]["status"] == "signature-invalid"
    empty = trust.parent / "empty-store"
    empty.mkdir()
    code, document = run_json(capsys, "image", "inspect", sample, "--trust", str(empty))
    shown = document["image"]
    assert shown["signature"]["status"] == "signer-unknown"


def test_verify_passes_a_trusted_compatible_image(
    signed: Path, trust: Path, capsys: Capture
) -> None:
    code, report = run_json(capsys, "image", "verify", str(signed), "--trust", str(trust), *DEVICE)
    assert code == 0 and report["ok"] is True
    assert report["compatibility"]["is_downgrade"] is False


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--device", "hardware_version=0x0200"], "hardware-out-of-range"),
        (["--device", "file_version=0x00030000"], "downgrade"),
        (["--device", "file_version=0x00030000", "--allow-downgrade"], "downgrade-needs-reason"),
        (["--device", "image_type=0xFFC0"], "wrong-image-type"),
    ],
)
def test_verify_refuses_with_the_error_code(
    signed: Path, trust: Path, capsys: Capture, extra: list[str], code: str
) -> None:
    exit_code, output = run_json(
        capsys, "image", "verify", str(signed), "--trust", str(trust), *DEVICE, *extra
    )
    assert exit_code == 1
    assert output["error"]["code"] == code
    assert output["ok"] is False
    # The device was given, so its fit is reported though the image does not fit it.
    assert output["compatibility"]["fits"] is False
    assert code in output["compatibility"]["problems"]


def test_verify_allows_a_downgrade_with_a_reason(
    signed: Path, trust: Path, capsys: Capture
) -> None:
    exit_code = main(
        ["image", "verify", str(signed), "--trust", str(trust), *DEVICE,
         "--device", "file_version=0x00030000", "--allow-downgrade", "--reason", "ticket 42"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert exit_code == 0
    assert "[downgrade-allowed]" in out and "ticket 42" in out and "Result: OK" in out


def test_verify_human_output_lists_the_problems(
    signed: Path, tmp_path: Path, capsys: Capture
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["image", "verify", str(signed), "--trust", str(empty)]) == 1
    captured = capsys.readouterr()
    assert "[signer-unknown]" in captured.out and "REFUSED" in captured.out
    assert captured.err.startswith("error [signer-unknown]")


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["image", "inspect", "{tmp}/missing.ota"], "file-not-found"),
        (["image", "inspect", "{tmp}"], "not-a-file"),
        (["image", "inspect", "{signed}", "--max-size", "100"], "file-too-large"),
        (["image", "inspect", "{payload}"], "bad-magic"),
        (["image", "verify", "{signed}", "--trust", "{tmp}/nowhere"], "trust-store-missing"),
        (["image", "verify", "{signed}", "--trust", "{tmp}", "--device", "colour=red"], "usage"),
        (["image", "verify", "{signed}", "--trust", "{tmp}", "--reason", "x"], "usage"),
        (
            ["image", "verify", "{signed}", "--trust", "{tmp}", "--device", "image_type=1"],
            "usage",
        ),
        (
            ["image", "build", "--manufacturer", "1", "--image-type", "1", "--file-version",
             "1", "--hw-min", "5", "--payload", "{payload}", "-o", "{tmp}/x.ota"],
            "bad-field-value",
        ),
        (
            ["image", "build", "--manufacturer", "1", "--image-type", "1", "--file-version",
             "1", "--payload", "{payload}", "--sign-key", "{payload}", "-o", "{tmp}/x.ota"],
            "bad-key",
        ),
        (
            ["image", "build", "--manufacturer", "1", "--image-type", "1", "--file-version",
             "1", "--payload", "{payload}", "-o", "{tmp}"],
            "cannot-write",
        ),
    ],
)  # fmt: skip
def test_failures_give_a_json_error_and_exit_1(
    tmp_path: Path, signed: Path, capsys: Capture, argv: list[str], code: str
) -> None:
    names = {"tmp": str(tmp_path), "signed": str(signed), "payload": str(tmp_path / "payload.bin")}
    exit_code, output = run_json(capsys, *(item.format(**names) for item in argv))
    assert exit_code == 1
    assert output["error"]["code"] == code
    assert output["error"]["message"]


def test_build_zigbee_form_with_every_option(
    tmp_path: Path, trust: Path, keys: dict[str, Any], capsys: Capture
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\x01\x02\x03" * 64)
    out = tmp_path / "device.ota"
    assert main(
        ["image", "build", "--manufacturer", "0x121D", "--image-type", "0xFFFF",
         "--file-version", "3", "--form", "zigbee", "--destination", "00:12:4B:00:01:02:03:04",
         "--security-credential-version", "2", "--stack-version", "0x0002",
         "--hw-min", "1", "--hw-max", "2", "--payload", str(payload),
         "--sign-key", keys["private_key_path"], "-o", str(out), "--json"]
    ) == 0  # fmt: skip
    built = json.loads(capsys.readouterr().out)
    assert built["body_form"] == "zigbee" and built["signer_key_id"] == keys["key_id"]
    code, document = run_json(capsys, "image", "inspect", str(out), "--trust", str(trust))
    shown = document["image"]
    assert code == 0
    assert shown["field_control"] == 7 and shown["header_length"] == 69
    assert shown["destination_eui64"] == 0x00124B0001020304
    assert [element["tag"] for element in shown["sub_elements"]] == [0x0000, 0xF0B1]
    assert shown["signature"]["signer"]["key_id"] == keys["key_id"]


def test_verify_through_the_installed_command(signed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bridgelab", "image", "verify", str(signed), "--trust", str(empty),
         "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "signer-unknown"
    assert "Traceback" not in result.stderr


def test_verify_gives_the_mode_verdicts_of_the_one_preflight(
    signed: Path, trust: Path, capsys: Capture
) -> None:
    legacy = [*DEVICE, "--device", "ota_capable=no", "join_state=joined"]
    code, output = run_json(capsys, "image", "verify", str(signed), "--trust", str(trust), *legacy)
    assert code == 0, "the image is fine: only OTA is refused"
    assert output["modes"]["local"]["allowed"] is True
    assert output["modes"]["ota"]["reason"]["code"] == "not-ota-capable"
    code, output = run_json(
        capsys, "image", "verify", str(signed), "--trust", str(trust), *legacy, "--mode", "ota"
    )
    assert code == 1 and output["ok"] is False
    assert output["error"]["code"] == "not-ota-capable"
    assert "locally" in output["error"]["action"]


def test_verify_refuses_a_bad_join_state_with_the_list(
    signed: Path, trust: Path, capsys: Capture
) -> None:
    code, output = run_json(
        capsys, "image", "verify", str(signed), "--trust", str(trust), *DEVICE,
        "--device", "join_state=floating",
    )  # fmt: skip
    assert code == 1
    assert output["error"]["code"] == "usage"
    assert "orphaned" in output["error"]["action"]


# ------------------------------------------------------------- vendor files


def test_inspect_shows_how_a_vendor_file_was_read(ota_real_dir: Path, capsys: Capture) -> None:
    from bridgelab.firmware.image import load_image
    from bridgelab.firmware.verify import describe_image, reading_facts

    path = ota_real_dir / "SDevices__152F_SBDV-00205_thermostat_r_7_7bd95d88_07000000.ota.zigbee"
    code, document = run_json(capsys, "image", "inspect", str(path))
    assert code == 0
    shown = document["image"]
    assert shown["file_size"] == 265604 and shown["ota_file_size"] == 265600
    assert shown["trailing"]["kind"] == "crc32-jamcrc" and shown["trailing"]["length"] == 4
    assert shown["form_evidence"].startswith("the body walks as 3 sub-elements")
    assert shown["firmware_element"] == {"tag": 0, "offset": 62, "length": 265396}
    inner = shown["inner_image"]
    assert (inner["format"], inner["encrypted"], inner["crc_ok"], inner["padding"]) == (
        "gbl",
        True,
        True,
        3,
    )
    assert {"trailing-bytes", "inner-image"} <= {item["code"] for item in shown["findings"]}
    # The text listing carries the same words as the report facts the GUI shows.
    assert main(["image", "inspect", str(path)]) == 0
    text = capsys.readouterr().out
    for label, value in reading_facts(describe_image(load_image(path))):
        assert f"{label:<19}  {value}" in text
    assert "warning [trailing-bytes]" in text


def test_form_decides_an_ambiguous_file_and_strict_refuses_extra_bytes(
    tmp_path: Path, capsys: Capture
) -> None:
    import struct

    body = struct.pack("<HI", 0x1234, 3) + b"abc" + b"\x01\x02\x03\x04\x05\x06\x07\xff\xff\xff\x7f"
    header = struct.pack(
        "<IHHHHHIH32sI", 0x0BEEF11E, 0x0100, 56, 0, 0x121D, 0x42, 7, 2, b"", 56 + len(body)
    )
    path = tmp_path / "ambiguous.ota"
    path.write_bytes(header + body)
    assert main(["image", "inspect", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "ambiguous-form"
    code, document = run_json(capsys, "image", "inspect", str(path), "--form", "gbcs")
    shown = document["image"]
    assert code == 0 and shown["body_form"] == "gbcs" and shown["form_given"] is True
    padded = tmp_path / "padded.ota"
    padded.write_bytes(header + body + b"\xff" * 8)
    code, document = run_json(capsys, "image", "inspect", str(padded), "--form", "gbcs")
    assert code == 0 and document["image"]["trailing"]["kind"] == "padding"
    assert main(["image", "inspect", str(padded), "--form", "gbcs", "--strict", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "trailing-data"


def test_build_says_which_form_it_wrote(tmp_path: Path, capsys: Capture) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"firmware " * 10)
    common = ["image", "build", "--manufacturer", "1", "--image-type", "2"]
    common += ["--file-version", "3", "--payload", str(payload)]
    assert main([*common, "-o", str(tmp_path / "a.ota")]) == 0
    assert "gbcs form (the default)" in capsys.readouterr().out
    assert main([*common, "--form", "zigbee", "-o", str(tmp_path / "b.ota")]) == 0
    out = capsys.readouterr().out
    assert "zigbee form," in out and "default" not in out
