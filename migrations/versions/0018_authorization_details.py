"""authorization details (RFC 9396): the types an operator registers, and the details a code and its tokens carry (issue 14)

Revision ID: 0018_authorization_details
Revises: 0010_signing_keys
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0018_authorization_details'
down_revision = '0017_disclosures'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'authorization_details_types',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('json_schema', sa.JSON(), nullable=False),
        sa.Column('display', sa.JSON(), nullable=False),
        sa.Column('client_ids', sa.JSON(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('updated_at', idp.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_details_types')),
        sa.UniqueConstraint('name', name=op.f('uq_authorization_details_types_name')),
    )
    for table in ('authorization_codes', 'tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('authorization_details', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    for table in ('tokens', 'authorization_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('authorization_details')
    op.drop_table('authorization_details_types')
