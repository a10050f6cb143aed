"""The IdP for any WSGI server run from a checkout: ``gunicorn wsgi:app``, ``granian --interface wsgi wsgi:app``.

Settings come from the environment (``IDP_*``) as for ``idp serve``, which is the supported way to
serve an installed wheel; this module is for servers an operator prefers to drive themselves.
Requests are logged as ``idp serve`` logs them (no query strings, tokens or addresses).
"""

from idp import accesslog
from idp import create_app

accesslog.configure()
app = accesslog.AccessLog(create_app())
