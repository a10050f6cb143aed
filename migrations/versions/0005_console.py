"""admin console: client status, secret rotation, dynamic registration

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'initial_access_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('agency', sa.String(length=200), nullable=False),
        sa.Column('allowed_scopes', sa.JSON(), nullable=False),
        sa.Column('max_ial', sa.Integer(), nullable=False),
        sa.Column('max_aal', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('expires_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', idp.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_initial_access_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_initial_access_tokens_token_hash')),
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('review_reasons', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('previous_secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', idp.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('registration_access_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('initial_token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', idp.db.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_clients_registration_access_token_hash'),
                                          ['registration_access_token_hash'])
        batch_op.create_index(batch_op.f('ix_clients_initial_token_id'), ['initial_token_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_clients_initial_token_id_initial_access_tokens'),
                                    'initial_access_tokens', ['initial_token_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
    op.execute("UPDATE clients SET status = CASE WHEN active THEN 'active' ELSE 'disabled' END")
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('active')


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE clients SET active = (status = 'active')")
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_clients_initial_token_id_initial_access_tokens'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_clients_initial_token_id'))
        batch_op.drop_constraint(batch_op.f('uq_clients_registration_access_token_hash'), type_='unique')
        for column in ('updated_at', 'initial_token_id', 'registration_access_token_hash',
                       'previous_secret_expires_at', 'previous_secret_hash', 'review_reasons', 'status'):
            batch_op.drop_column(column)
    op.drop_table('initial_access_tokens')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))
