#!/bin/sh
# Install this unpacked Bridge Lab bundle for the current user, without administrator
# rights: a `bridgelab` command in ~/.local/bin, a menu entry and an icon.
#
#   ./install/install-user.sh              install (run again after moving the folder)
#   ./install/install-user.sh --uninstall  remove those three (the folder stays)
#
# Serial access still needs the administrator once (see INSTALL.txt): either the udev
# rule beside this script, or membership of the dialout group.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bundle=$(dirname "$here")
bin_dir="$HOME/.local/bin"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
desktop="$data_dir/applications/bridgelab.desktop"
icon="$data_dir/icons/hicolor/scalable/apps/bridgelab.svg"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$bin_dir/bridgelab" "$desktop" "$icon"
    echo "Removed the bridgelab command, menu entry and icon."
    exit 0
fi

if [ ! -x "$bundle/bridgelab" ]; then
    echo "error: $bundle/bridgelab not found; run this script from the unpacked bundle." >&2
    exit 1
fi

mkdir -p "$bin_dir" "$(dirname "$desktop")" "$(dirname "$icon")"
ln -sfn "$bundle/bridgelab" "$bin_dir/bridgelab"
cp "$here/bridgelab.svg" "$icon"
# The menu entry runs this bundle by its full path, quoted as the desktop-entry spec asks.
sed "s|^Exec=bridgelab |Exec=\"$bundle/bridgelab\" |" "$here/bridgelab.desktop" >"$desktop"

echo "Installed: $bin_dir/bridgelab, a menu entry (Bridge Lab) and its icon."
case ":$PATH:" in
*":$bin_dir:"*) ;;
*) echo "Note: $bin_dir is not on your PATH; add it, or run $bundle/bridgelab." ;;
esac
"$bundle/bridgelab" --version
