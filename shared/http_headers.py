"""The security headers every hub and node page carries (no inline script or style anywhere)."""

CSP = (
    "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

# A JSON answer (the hub's sync API) is no page: nothing in it loads, runs or links, so one
# directive forbids everything and another forbids framing (what X-Frame-Options says, to every
# browser since 2016); nosniff keeps a browser from reading it as HTML. The page policy above is
# 184 B and X-Frame-Options 23 B more on every answer a village gets over 2G.
JSON_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
