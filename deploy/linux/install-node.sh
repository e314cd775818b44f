#!/bin/sh
# Install a Daiban village node on a Linux PC: a virtual environment, the node's data
# directory and key, a systemd service serving the clerk page on 127.0.0.1, and a
# desktop shortcut. Safe to run again (upgrades the software, keeps the data).
#
#   sudo sh deploy/linux/install-node.sh --hub https://hub.example.gov.cn --code ABCD-EFGH-JKMN
#   sh deploy/linux/install-node.sh --prefix /tmp/daiban --no-systemd     # no root needed
set -eu

PREFIX=/opt/daiban-node
DATA_DIR=""
SOURCE=""
PYTHON=python3
PORT=8701
SYSTEMD=1
SERVICE_USER=""
DESKTOP_DIR=""
HUB_URL=""
CODE=""
PIN_CERT=""

usage() {
    cat <<'USAGE'
用法: install-node.sh [选项]
  --prefix DIR        安装目录（默认 /opt/daiban-node）
  --data DIR          数据目录（默认 <安装目录>/data）
  --source DIR|WHEEL  Daiban 源码目录或安装包（默认本脚本所在的源码树）
  --python PY         Python 3.11 及以上（默认 python3）
  --port N            本机端口（默认 8701）
  --user NAME         以哪个系统用户运行服务（默认 daiban，不存在则创建）
  --no-systemd        不安装 systemd 服务（测试或手动运行时）
  --desktop-dir DIR   桌面快捷方式放在哪里（默认当前用户桌面）
  --hub URL --code C  安装后立即向乡镇中心注册
  --pin-cert          注册时固定中心的自签名证书
USAGE
}

die() {
    echo "安装失败：$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --data) DATA_DIR=$2; shift 2 ;;
        --source) SOURCE=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        --user) SERVICE_USER=$2; shift 2 ;;
        --no-systemd) SYSTEMD=0; shift ;;
        --desktop-dir) DESKTOP_DIR=$2; shift 2 ;;
        --hub) HUB_URL=$2; shift 2 ;;
        --code) CODE=$2; shift 2 ;;
        --pin-cert) PIN_CERT=--pin-cert; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "不认识的选项 $1" ;;
    esac
done

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
[ -n "$SOURCE" ] || SOURCE=$(cd "$SCRIPT_DIR/../.." && pwd)
[ -n "$DATA_DIR" ] || DATA_DIR="$PREFIX/data"

command -v "$PYTHON" >/dev/null 2>&1 || die "找不到 $PYTHON，请先安装 Python 3.11 及以上（Debian/统信/麒麟：apt install python3 python3-venv）"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "Python 版本过低，需要 3.11 及以上"

if [ "$SYSTEMD" = 1 ]; then
    [ "$(id -u)" = 0 ] || die "安装系统服务需要 root 权限（sudo），或加 --no-systemd"
    [ -n "$SERVICE_USER" ] || SERVICE_USER=daiban
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
fi

echo "1/4 准备 Python 虚拟环境：$PREFIX/venv"
mkdir -p "$PREFIX" "$DATA_DIR"
[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$SOURCE" \
    || die "pip 安装失败（检查网络或软件源）"

DAIBAN="$PREFIX/venv/bin/daiban"
echo "2/4 初始化数据目录：$DATA_DIR"
if [ -f "$DATA_DIR/node_key.pem" ]; then
    echo "    已有本机密钥，保留原数据（升级安装）"
else
    "$DAIBAN" node --dir "$DATA_DIR" init | tee "$PREFIX/init.txt"
    chmod 600 "$PREFIX/init.txt"
fi
if [ -n "$HUB_URL" ] && [ -n "$CODE" ]; then
    # shellcheck disable=SC2086  # PIN_CERT is empty or one flag
    "$DAIBAN" node --dir "$DATA_DIR" enroll --hub "$HUB_URL" --code "$CODE" $PIN_CERT
fi
chmod 700 "$DATA_DIR"

echo "3/4 开机自动启动"
mkdir -p "$PREFIX/systemd"
UNIT="$PREFIX/systemd/daiban-node.service"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@DATA_DIR@|$DATA_DIR|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@USER@|${SERVICE_USER:-daiban}|g" "$SCRIPT_DIR/daiban-node.service.in" > "$UNIT"
if [ "$SYSTEMD" = 1 ]; then
    chown -R "$SERVICE_USER" "$DATA_DIR"
    install -m 0644 "$UNIT" /etc/systemd/system/daiban-node.service
    systemctl daemon-reload
    systemctl enable --now daiban-node.service
    echo "    已安装并启动 systemd 服务 daiban-node"
else
    echo "    未安装系统服务（--no-systemd）；服务文件在 $UNIT"
    echo "    手动运行：$DAIBAN node --dir $DATA_DIR run --port $PORT"
fi

echo "4/4 桌面快捷方式"
if [ -z "$DESKTOP_DIR" ]; then
    DESKTOP_DIR="${XDG_DESKTOP_DIR:-${HOME:-/root}/Desktop}"
fi
mkdir -p "$DESKTOP_DIR"
SHORTCUT="$DESKTOP_DIR/daiban-node.desktop"
cat > "$SHORTCUT" <<DESKTOP
[Desktop Entry]
Type=Application
Version=1.0
Name=代办点
Comment=村级政务代办点（打开代办员页面）
Exec=xdg-open http://127.0.0.1:$PORT/
Icon=applications-office
Terminal=false
Categories=Office;
DESKTOP
chmod 755 "$SHORTCUT"
echo "安装完成。打开桌面上的「代办点」，或浏览器访问 http://127.0.0.1:$PORT/"
echo "检查本机状态：$DAIBAN node --dir $DATA_DIR doctor"
