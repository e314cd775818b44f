"""What `--help` says about each `daiban` command, in Chinese (the msgid); English comes from the catalogues.

The docstrings of the commands are for developers; people read these sentences, in the one language
of their locale (shared.cli_i18n). tests/test_english_cli.py fails on a command missing here.
"""

from shared.msgid import N_

HELP: dict[str, str] = {
    "daiban hub act": N_(
        "对一件申请执行办理操作（accept 受理、ask_materials 补正、refuse 不予受理、approve 准予、"
        "deny 不予批准、to_county 报县级）。"
    ),
    "daiban hub add-user": N_("新建窗口工作人员、效能监督人员或管理员账号。"),
    "daiban hub backup": N_("对中心数据库做一份一致的备份（SQLite 在线备份或 pg_dump）。"),
    "daiban hub catalogue-defaults": N_("把随软件提供的默认类别、窗口和事项补入目录（已有的保持不变）。"),
    "daiban hub county-answer": N_("按县级批复文件，录入报县级事项的县级批复。"),
    "daiban hub county-enroll": N_("用县级中心签发的一次性注册码，把本乡镇中心注册到县级中心（固定县级中心密钥）。"),
    "daiban hub county-export-bundle": N_(
        "与县级中心断网时：把报县级的事项和附件写成给县级中心的加密、签名数据包（U盘）。"
    ),
    "daiban hub county-import-bundle": N_("导入县级中心写出的回复包（U盘），录入其中的县级批复。"),
    "daiban hub county-queue": N_("县级中心：列出各乡镇报县级、等待县级批复的事项，最紧迫的在前。"),
    "daiban hub county-status": N_(
        "本乡镇中心与县级中心的连接情况：注册到哪里、最近一次成功同步、最近的错误、待上传事件。"
    ),
    "daiban hub county-sync": N_("立即与县级中心同步一轮：上传报县级的事项，录入县级的批复。"),
    "daiban hub disable-user": N_("停用工作人员账号（其登录立即失效），或重新启用。"),
    "daiban hub doctor": N_("检查数据库、密钥、定时任务、工作日历和磁盘，并说明需要处理什么。"),
    "daiban hub duty": N_("设置工作人员在岗或离岗；离岗时其在办申请交B角承办（AB角）。"),
    "daiban hub enroll-code": N_("为一个行政村签发一次性注册码。"),
    "daiban hub figures": N_("中心某一期间的统计报表，按中心自己的分类（与效能监督页面一致）。"),
    "daiban hub import-bundle": N_("通过同步代码导入村代办点的U盘数据包，并写出回复包。"),
    "daiban hub init": N_("创建中心密钥和数据库（可重复运行）。"),
    "daiban hub migrate": N_("把数据库结构升级到最新（可重复运行）。"),
    "daiban hub new-epoch": N_("启用备用库后（或数据库末尾有丢失时）：各代办点重建其日志副本。"),
    "daiban hub reassign": N_("把一件在办申请改派给本窗口的另一位工作人员。"),
    "daiban hub register": N_("窗口服务事项受理登记册。"),
    "daiban hub register export": N_("把某月的受理登记册写成 .xlsx 文件。"),
    "daiban hub restore": N_("把备份恢复到本中心（空的）数据库，然后升级数据库结构。"),
    "daiban hub revoke": N_("立即吊销该村代办点的密钥（电脑被盗或更换时）。"),
    "daiban hub rotate-key": N_("更换中心密钥；各代办点凭旧密钥签名的声明改用新密钥。"),
    "daiban hub run": N_("用 waitress 运行中心服务。"),
    "daiban hub scheduler": N_("运行中心的定时任务（期限巡检、每日统计、心跳、夜间备份）；每个中心运行一个。"),
    "daiban hub set-password": N_("给工作人员设置新密码；其已登录的会话全部失效。"),
    "daiban hub sweep": N_("立即运行一次期限巡检（定时任务每隔几分钟运行一次）。"),
    "daiban hub verify-audit": N_("检查审计日志的哈希链；不完整时以状态 1 退出，并指出第一处断开的记录。"),
    "daiban node add-clerk": N_("新建可登录本代办点的代办员账号。"),
    "daiban node attach": N_("给一件申请添加文件的扫描件或照片（下次同步时上传）。"),
    "daiban node backup": N_("立即备份代办点数据库（SQLite 在线备份）。"),
    "daiban node capture": N_("从 JSON 文件录入一件申请（连不上中心时也可用）。"),
    "daiban node centre": N_("设置（或查看）每张回执上印的中心电话和地址。"),
    "daiban node disable-clerk": N_("停用代办员账号（其登录立即失效），或重新启用。"),
    "daiban node doctor": N_("检查数据库、密钥、时钟、与中心的连接、磁盘和备份，并说明需要处理什么。"),
    "daiban node enroll": N_("用一次性注册码向中心注册，并固定中心的密钥（需要时也固定其证书）。"),
    "daiban node export-bundle": N_("把待上传的批次和附件写成给中心的加密、签名数据包（U盘）。"),
    "daiban node import-bundle": N_("导入中心写出的回复包（U盘）。"),
    "daiban node init": N_("创建本代办点的密钥和数据库，并打印一个新的 API 令牌。"),
    "daiban node purge": N_("清除办结并已确认超过 N 天的申请中的个人信息。"),
    "daiban node withdraw": N_("按群众本人的意愿撤回一件申请（暂存的在本机撤回，已提交的报中心确认）。"),
    "daiban node requeue": N_("列出被隔离的记录，或把指定的记录放回队列（有记录）。"),
    "daiban node restore": N_("从备份恢复数据库；请先停止代办点服务。下次同步时向中心询问从哪里继续。"),
    "daiban node run": N_("用 waitress 运行代办员应用，并在后台同步。"),
    "daiban node set-password": N_("给代办员设置新密码；其已登录的会话全部失效。"),
    "daiban node sync": N_("立即运行一轮同步，并说明结果。"),
}
