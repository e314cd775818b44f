#!/bin/sh
# Install the Daiban township hub on a Debian/Ubuntu/UOS/Kylin server: venv, user, data and
# log directories, env file, systemd units (web + ONE scheduler), logrotate and nginx config.
# PostgreSQL and the TLS certificate are prepared by the operator (see docs/operations.md).
# Safe to run again: it upgrades the software and keeps data, key and env file.
#
#   sudo sh deploy/linux/install-hub.sh
#   sh deploy/linux/install-hub.sh --prefix /tmp/hub --no-systemd      # no root needed
set -eu

PREFIX=/opt/daiban-hub
DATA_DIR=/var/lib/daiban-hub
ETC_DIR=/etc/daiban
SOURCE=""
PYTHON=python3
SYSTEMD=1

die() {
    echo "安装失败：$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --data) DATA_DIR=$2; shift 2 ;;
        --etc) ETC_DIR=$2; shift 2 ;;
        --source) SOURCE=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --no-systemd) SYSTEMD=0; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) die "不认识的选项 $1" ;;
    esac
done

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
DEPLOY_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
[ -n "$SOURCE" ] || SOURCE=$(cd "$DEPLOY_DIR/.." && pwd)

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "需要 Python 3.11 及以上"
if [ "$SYSTEMD" = 1 ]; then
    [ "$(id -u)" = 0 ] || die "需要 root 权限（sudo），或加 --no-systemd"
    id daiban >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin daiban
fi

# psycopg (the PostgreSQL driver) is compiled against this server's libpq: say what is missing
# before pip fails with a compiler's error.
if ! command -v pg_config >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1 \
    || ! "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'; then
    die "编译数据库驱动需要 libpq-dev、gcc 和 python3-dev：sudo apt-get install -y libpq-dev gcc python3-dev"
fi

mkdir -p "$PREFIX" "$DATA_DIR" "$ETC_DIR"
[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${SOURCE}[pg]" \
    || die "pip 安装失败"

if [ ! -f "$ETC_DIR/hub.env" ]; then
    install -m 0640 "$DEPLOY_DIR/hub/hub.env.example" "$ETC_DIR/hub.env"
    echo "已生成 $ETC_DIR/hub.env：请填写 DATABASE_URL 与 METRICS_TOKEN 后再启动"
fi
chmod 700 "$DATA_DIR"

if [ "$SYSTEMD" = 1 ]; then
    mkdir -p /var/log/daiban
    chown daiban:adm /var/log/daiban
    chown -R daiban:daiban "$DATA_DIR"
    chgrp daiban "$ETC_DIR/hub.env"
    install -m 0644 "$DEPLOY_DIR/hub/daiban-hub.service" /etc/systemd/system/daiban-hub.service
    install -m 0644 "$DEPLOY_DIR/hub/daiban-scheduler.service" /etc/systemd/system/daiban-scheduler.service
    install -m 0644 "$DEPLOY_DIR/hub/logrotate-daiban" /etc/logrotate.d/daiban
    if [ -d /etc/nginx/sites-available ] && [ ! -f /etc/nginx/sites-available/daiban ]; then
        install -m 0644 "$DEPLOY_DIR/hub/nginx-daiban.conf" /etc/nginx/sites-available/daiban
        echo "已放置 nginx 配置 /etc/nginx/sites-available/daiban：改好域名与证书路径后启用"
    fi
    systemctl daemon-reload
    echo "下一步：编辑 $ETC_DIR/hub.env，然后"
    echo "  sudo -u daiban sh -c 'set -a; . $ETC_DIR/hub.env; exec $PREFIX/venv/bin/daiban hub init'"
    echo "  systemctl enable --now daiban-hub daiban-scheduler"
else
    echo "已安装到 $PREFIX（未安装系统服务）"
fi
