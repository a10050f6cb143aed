"""bench/profile_report.py: py-spy's collapsed stacks summed by self time and by layer, in percent of samples."""

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[2] / "bench" / "profile_report.py"
_SPEC = importlib.util.spec_from_file_location("bench_profile_report", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
profile_report = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_profile_report"] = profile_report  # dataclasses look their module up while decorating
_SPEC.loader.exec_module(profile_report)
Layer = profile_report.Layer

MASTER = 'process 100:"/venv/bin/python /venv/bin/idp serve --workers 1"'
WORKER = MASTER + ';process 101:"/venv/bin/python /venv/bin/idp serve --workers 1"'
THREAD = WORKER + ";Thread._bootstrap (threading.py:1002);ThreadWorker.handle (gunicorn/workers/gthread.py:282)"
APP = THREAD + ";wsgi_app (flask/app.py:1511);dispatch_request (flask/app.py:865);token (idp/oidc/views.py:40)"

# 200 samples in all (one pseudo-frame-only line is dropped: no Python frame)
FIXTURE = f"""\
{APP};PasswordHasher.verify (argon2/_password_hasher.py:220) 50
{APP};Session.execute (sqlalchemy/orm/session.py:2300);DefaultDialect.do_execute (sqlalchemy/engine/default.py:951) 40
{APP};Session.execute (sqlalchemy/orm/session.py:2300);SQLCompiler._compile (sqlalchemy/sql/compiler.py:700) 16
{APP};Session.execute (sqlalchemy/orm/session.py:2300);Compiled.do_execute (sqlalchemy/sql/compiler.py:9) 4
{APP};sign (joserfc/jws.py:60);sign (cryptography/hazmat/backends/openssl/rsa.py:500) 30
{APP};dumps (json/__init__.py:231);encode (json/encoder.py:200) 10
{APP};token (idp/oidc/views.py:44) 10
{THREAD};sendall (socket.py:400) 15
{THREAD};recv (socket.py:700) 5
{WORKER};<module> (site.py:1);tick (somepkg/clock.py:3) 20
{MASTER} 7
"""


@pytest.fixture
def summary():
    return profile_report.summarize(profile_report.parse_collapsed(FIXTURE))


def test_counts_samples_of_python_stacks_only(summary):
    assert summary.samples == 200


def test_layers_charge_the_innermost_known_frame(summary):
    shares = {layer: summary.percent(n) for layer, n in summary.layers}
    assert shares == {
        Layer.ARGON2: 25.0,
        Layer.DB_DRIVER: 20.0,  # do_execute's own time is the C driver's
        Layer.JOSE: 15.0,
        Layer.SQLALCHEMY: 10.0,  # a do_execute outside engine/default.py is SQLAlchemy's own
        Layer.GUNICORN: 10.0,  # socket.py is transparent: gunicorn called it
        Layer.IDP: 10.0,  # 5 % own self time + the json it called
        Layer.OTHER: 10.0,  # nothing known on the stack
    }
    assert [layer for layer, _ in summary.layers][:2] == [Layer.ARGON2, Layer.DB_DRIVER]


def test_self_time_merges_lines_and_keeps_inclusive_share(summary):
    top = {f.frame: (f.layer, summary.percent(f.self_samples), summary.percent(f.total_samples))
           for f in summary.frames}
    assert summary.frames[0].frame == "PasswordHasher.verify (argon2/_password_hasher.py)"
    assert top["PasswordHasher.verify (argon2/_password_hasher.py)"] == (Layer.ARGON2, 25.0, 25.0)
    assert top["DefaultDialect.do_execute (sqlalchemy/engine/default.py)"] == (Layer.DB_DRIVER, 20.0, 20.0)
    # line 40 and line 44 of the view are one function: 10 samples of self time, 160 on the stack
    assert top["token (idp/oidc/views.py)"] == (Layer.IDP, 5.0, 80.0)
    assert top["sendall (socket.py)"] == (Layer.GUNICORN, 7.5, 7.5)
    assert top["encode (json/encoder.py)"] == (Layer.IDP, 5.0, 5.0)
    assert "ThreadWorker.handle (gunicorn/workers/gthread.py)" not in top  # never a leaf: no self time


def test_render_prints_layers_then_top_frames(summary):
    text = profile_report.render(summary, top=3)
    assert "| argon2 | 25.0 | the point of the hash" in text
    assert "| other (stdlib, unlisted packages) | 10.0 |" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| `")]
    assert rows == [
        "| `PasswordHasher.verify (argon2/_password_hasher.py)` | argon2 | 25.0 | 25.0 |",
        "| `DefaultDialect.do_execute (sqlalchemy/engine/default.py)` | DB driver (sqlite3/psycopg) | 20.0 | 20.0 |",
        "| `sign (cryptography/hazmat/backends/openssl/rsa.py)` | JOSE/crypto (joserfc/cryptography) | 15.0 | 15.0 |",
    ]


def test_every_layer_says_what_would_shrink_it():
    assert set(profile_report.LEVERS) == set(Layer) and all(profile_report.LEVERS.values())


def test_empty_profile_says_so():
    summary = profile_report.summarize(profile_report.parse_collapsed(f"{MASTER} 12\n\nnot a line\n"))
    assert summary.samples == 0
    assert "no samples" in profile_report.render(summary)


def test_load_sums_the_runs(tmp_path):
    one, two = tmp_path / "run1.txt", tmp_path / "run2.txt"
    one.write_text(f"{APP};PasswordHasher.verify (argon2/_password_hasher.py:220) 3\n")
    two.write_text(f"{APP};PasswordHasher.verify (argon2/_password_hasher.py:221) 1\n{APP} 4\n")
    summary = profile_report.load([one, two])
    assert summary.samples == 8
    assert dict(summary.layers) == {Layer.ARGON2: 4, Layer.IDP: 4}


def test_gthread_pool_handoff_counts_as_gunicorn():
    stacks = profile_report.parse_collapsed(
        f"{WORKER};Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81) 3\n")
    assert dict(profile_report.summarize(stacks).layers) == {Layer.GUNICORN: 3}
