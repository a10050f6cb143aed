"""back-channel logout: the delivery record of logout tokens (issue 13)

Revision ID: 0014_backchannel_logout
Revises: 0012_dpop
Create Date: 2026-12-03 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0014_backchannel_logout'
down_revision = '0012_dpop'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'logout_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=32), nullable=True),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('delivered_at', idp.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'],
                                name=op.f('fk_logout_deliveries_client_id_clients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sid'], ['auth_sessions.id'],
                                name=op.f('fk_logout_deliveries_sid_auth_sessions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_logout_deliveries')),
    )
    op.create_index(op.f('ix_logout_deliveries_client_id'), 'logout_deliveries', ['client_id'], unique=False)
    op.create_index(op.f('ix_logout_deliveries_sid'), 'logout_deliveries', ['sid'], unique=False)
    op.create_index('ix_logout_deliveries_due', 'logout_deliveries', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_logout_deliveries_due', table_name='logout_deliveries')
    op.drop_index(op.f('ix_logout_deliveries_sid'), table_name='logout_deliveries')
    op.drop_index(op.f('ix_logout_deliveries_client_id'), table_name='logout_deliveries')
    op.drop_table('logout_deliveries')
