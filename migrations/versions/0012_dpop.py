"""DPoP (RFC 9449): proofs seen once per key, and the key a code or token is bound to (issue 13)

Revision ID: 0012_dpop
Revises: 0010_signing_keys
Create Date: 2026-12-03 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0012_dpop'
down_revision = '0018_authorization_details'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'used_dpop_proofs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('jkt', sa.String(length=64), nullable=False),
        sa.Column('jti', sa.String(length=255), nullable=False),
        sa.Column('expires_at', idp.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_used_dpop_proofs')),
        sa.UniqueConstraint('jkt', 'jti', name=op.f('uq_used_dpop_proofs_jkt')),
    )
    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_dpop_proofs_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')
    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_dpop_proofs_expires_at'))
    op.drop_table('used_dpop_proofs')
