"""pushed authorization requests (RFC 9126), for the FAPI 2.0 profile (issue 13)

Revision ID: 0011_fapi_par
Revises: 0012_dpop
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0011_fapi_par'
down_revision = '0013_agencies'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pushed_authorization_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference_hash', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('expires_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('claimed_at', idp.db.UTCDateTime(), nullable=True),
        sa.Column('claim_hash', sa.String(length=64), nullable=True),
        sa.Column('completed_at', idp.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_pushed_authorization_requests_client_id_clients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pushed_authorization_requests')),
        sa.UniqueConstraint('reference_hash', name=op.f('uq_pushed_authorization_requests_reference_hash')),
    )
    op.create_index(op.f('ix_pushed_authorization_requests_client_id'), 'pushed_authorization_requests',
                    ['client_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pushed_authorization_requests_client_id'), table_name='pushed_authorization_requests')
    op.drop_table('pushed_authorization_requests')
