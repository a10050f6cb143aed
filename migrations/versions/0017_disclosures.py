"""disclosure log and consent receipts: what citizens see of their data (issue 14)

Revision ID: 0017_disclosures
Revises: 0010_signing_keys
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0017_disclosures'
down_revision = '0010_signing_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'disclosures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=True),
        sa.Column('service_name', sa.String(length=200), nullable=False),
        sa.Column('at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('via', sa.String(length=32), nullable=False),
        sa.Column('claims', sa.JSON(), nullable=False),
        sa.Column('acr', sa.String(length=100), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=False),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_disclosures_client_id_clients'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_disclosures_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures')),
    )
    op.create_index('ix_disclosures_user_id_at', 'disclosures', ['user_id', 'at'], unique=False)
    op.create_index(op.f('ix_disclosures_at'), 'disclosures', ['at'], unique=False)
    op.create_index(op.f('ix_disclosures_client_id'), 'disclosures', ['client_id'], unique=False)
    op.create_table(
        'consent_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('receipt_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=True),
        sa.Column('service_name', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('issued_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('jws', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_consent_receipts_client_id_clients'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consent_receipts_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_receipts')),
        sa.UniqueConstraint('receipt_id', name=op.f('uq_consent_receipts_receipt_id')),
    )
    op.create_index(op.f('ix_consent_receipts_user_id'), 'consent_receipts', ['user_id'], unique=False)
    op.create_index(op.f('ix_consent_receipts_client_id'), 'consent_receipts', ['client_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_consent_receipts_client_id'), table_name='consent_receipts')
    op.drop_index(op.f('ix_consent_receipts_user_id'), table_name='consent_receipts')
    op.drop_table('consent_receipts')
    op.drop_index(op.f('ix_disclosures_client_id'), table_name='disclosures')
    op.drop_index(op.f('ix_disclosures_at'), table_name='disclosures')
    op.drop_index('ix_disclosures_user_id_at', table_name='disclosures')
    op.drop_table('disclosures')
