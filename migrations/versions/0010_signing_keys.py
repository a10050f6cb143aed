"""signing keys in the database: every instance signs with and publishes the same keys (issue 12)

Revision ID: 0010_signing_keys
Revises: 0009_email_codes
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0010_signing_keys'
down_revision = '0009_email_codes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signing_keys',
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('alg', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('retired_at', idp.db.UTCDateTime(), nullable=True),
        sa.Column('private_pem', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys')),
    )
    op.create_index('uq_signing_keys_active_alg', 'signing_keys', ['alg'], unique=True,
                    sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))


def downgrade() -> None:
    op.drop_index('uq_signing_keys_active_alg', table_name='signing_keys')
    op.drop_table('signing_keys')
