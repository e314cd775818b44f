<#
.SYNOPSIS
    Install a Daiban village node on Windows 10/11.

.DESCRIPTION
    Creates a Python virtual environment, installs Daiban, initialises the node's data
    (key and database), starts it at boot (a Windows service through NSSM when nssm.exe is
    on PATH, otherwise a scheduled task at system start-up), and puts a desktop shortcut to
    the clerk's page http://127.0.0.1:8701/. Safe to run again: upgrades, keeps the data.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File deploy\windows\install.ps1 -HubUrl https://hub.example.gov.cn -Code ABCD-EFGH-JKMN
#>
[CmdletBinding()]
param(
    [string]$Prefix = "$env:ProgramFiles\Daiban",
    [string]$DataDir = "$env:ProgramData\Daiban\node",
    [string]$Source = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path,
    [string]$Python = "py",
    [int]$Port = 8701,
    [string]$HubUrl = "",
    [string]$Code = "",
    [switch]$PinCert,
    [switch]$NoService
)

$ErrorActionPreference = "Stop"
$TaskName = "DaibanNode"

function Fail([string]$Message) {
    Write-Host "安装失败：$Message" -ForegroundColor Red
    exit 1
}

function Test-Admin {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    return (New-Object Security.Principal.WindowsPrincipal $identity).IsInRole(
        [Security.Principal.WindowsBuiltInRole]::Administrator)
}

if (-not $NoService -and -not (Test-Admin)) {
    Fail "请右键“以管理员身份运行” PowerShell，或加 -NoService"
}

# 1. Python 3.11+ (the py launcher picks the newest installed Python).
$pythonArgs = @()
if ($Python -eq "py") { $pythonArgs = @("-3") }
& $Python @pythonArgs -c "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)"
if ($LASTEXITCODE -ne 0) {
    Fail "需要 Python 3.11 及以上：请从 python.org 安装（勾选 Add to PATH）后重试"
}

Write-Host "1/4 准备 Python 虚拟环境：$Prefix\venv"
New-Item -ItemType Directory -Force -Path $Prefix, $DataDir | Out-Null
$venvPython = Join-Path $Prefix "venv\Scripts\python.exe"
if (-not (Test-Path $venvPython)) {
    & $Python @pythonArgs -m venv (Join-Path $Prefix "venv")
    if ($LASTEXITCODE -ne 0) { Fail "无法创建虚拟环境" }
}
& $venvPython -m pip install --quiet --disable-pip-version-check $Source
if ($LASTEXITCODE -ne 0) { Fail "pip 安装失败（检查网络或软件源）" }
$daiban = Join-Path $Prefix "venv\Scripts\daiban.exe"

Write-Host "2/4 初始化数据目录：$DataDir"
if (Test-Path (Join-Path $DataDir "node_key.pem")) {
    Write-Host "    已有本机密钥，保留原数据（升级安装）"
} else {
    & $daiban node --dir $DataDir init | Tee-Object -FilePath (Join-Path $Prefix "init.txt")
    if ($LASTEXITCODE -ne 0) { Fail "初始化失败" }
}
# The key and database are for the service account and administrators only.
icacls $DataDir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null
if ($HubUrl -and $Code) {
    $enrollArgs = @("node", "--dir", $DataDir, "enroll", "--hub", $HubUrl, "--code", $Code)
    if ($PinCert) { $enrollArgs += "--pin-cert" }
    & $daiban @enrollArgs
    if ($LASTEXITCODE -ne 0) { Fail "注册失败，请核对中心地址与注册码" }
}

Write-Host "3/4 开机自动启动"
$runArgs = "node --dir `"$DataDir`" run --host 127.0.0.1 --port $Port"
if ($NoService) {
    Write-Host "    未安装自动启动（-NoService）。手动运行：`"$daiban`" $runArgs"
} elseif (Get-Command nssm.exe -ErrorAction SilentlyContinue) {
    & nssm.exe stop $TaskName 2>$null | Out-Null
    & nssm.exe remove $TaskName confirm 2>$null | Out-Null
    & nssm.exe install $TaskName $daiban $runArgs | Out-Null
    & nssm.exe set $TaskName AppDirectory $DataDir | Out-Null
    & nssm.exe set $TaskName AppEnvironmentExtra "DAIBAN_NODE_DIR=$DataDir" | Out-Null
    & nssm.exe set $TaskName AppStdout (Join-Path $DataDir "node.log") | Out-Null
    & nssm.exe set $TaskName AppStderr (Join-Path $DataDir "node.log") | Out-Null
    & nssm.exe set $TaskName AppRotateFiles 1 | Out-Null
    & nssm.exe set $TaskName AppRotateBytes 10485760 | Out-Null
    & nssm.exe set $TaskName Start SERVICE_AUTO_START | Out-Null
    & nssm.exe start $TaskName | Out-Null
    Write-Host "    已安装 Windows 服务 $TaskName（NSSM）"
} else {
    $action = New-ScheduledTaskAction -Execute $daiban -Argument $runArgs -WorkingDirectory $DataDir
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $principal = New-ScheduledTaskPrincipal -UserId "SYSTEM" -LogonType ServiceAccount -RunLevel Highest
    # Restart after a crash; never stop a long-running node.
    $settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
        -ExecutionTimeLimit ([TimeSpan]::Zero) -StartWhenAvailable -AllowStartIfOnBatteries `
        -DontStopIfGoingOnBatteries
    Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Principal $principal `
        -Settings $settings -Force | Out-Null
    Start-ScheduledTask -TaskName $TaskName
    Write-Host "    已登记开机任务 $TaskName（任务计划程序）"
}

Write-Host "4/4 桌面快捷方式"
$desktop = [Environment]::GetFolderPath("CommonDesktopDirectory")
$shortcut = Join-Path $desktop "代办点.url"
Set-Content -Path $shortcut -Encoding ASCII -Value @(
    "[InternetShortcut]",
    "URL=http://127.0.0.1:$Port/"
)
Write-Host "安装完成。双击桌面上的「代办点」打开代办员页面（http://127.0.0.1:$Port/）"
Write-Host "检查本机状态：`"$daiban`" node --dir `"$DataDir`" doctor"
