"""Mark Chinese vocabulary for the translation catalogues where it is defined, without translating it there.

Labels of states, modes, levels and the like stay Chinese in data, logs and the protocol; the pages
translate them where they are shown (`|tr` in templates, `shared.i18n.tr` in views).
"""


def N_(message: str) -> str:
    return message
