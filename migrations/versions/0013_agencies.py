"""agencies: resource servers (RFC 8707), client_credentials, token exchange (RFC 8693) (issue 13)

Tokens may now have no person (``client_credentials``), an audience other than the issuer
(``resource``) and an actor (``act``); resource servers, the scopes an agency's back-end may get
for itself, the allowed exchange pairs and each exchange as the citizen sees it get their tables.

Revision ID: 0013_agencies
Revises: 0012_dpop
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0013_agencies'
down_revision = '0014_backchannel_logout'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('machine_access',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', idp.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_machine_access_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_machine_access'))
    )
    op.create_table('resource_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=2048), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_th', sa.String(length=200), nullable=True),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', idp.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_resource_servers_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_servers')),
    sa.UniqueConstraint('client_id', name=op.f('uq_resource_servers_client_id')),
    sa.UniqueConstraint('identifier', name=op.f('uq_resource_servers_identifier'))
    )
    op.create_table('data_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('source_client_id', sa.Integer(), nullable=True),
    sa.Column('resource_server_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_data_uses_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_server_id'], ['resource_servers.id'], name=op.f('fk_data_uses_resource_server_id_resource_servers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_client_id'], ['clients.id'], name=op.f('fk_data_uses_source_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_data_uses_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_uses'))
    )
    with op.batch_alter_table('data_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_uses_user_id'), ['user_id'], unique=False)

    op.create_table('exchange_permissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('resource_server_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_exchange_permissions_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_server_id'], ['resource_servers.id'], name=op.f('fk_exchange_permissions_resource_server_id_resource_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_permissions')),
    sa.UniqueConstraint('client_id', 'resource_server_id', name=op.f('uq_exchange_permissions_client_id'))
    )
    with op.batch_alter_table('exchange_permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_permissions_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_permissions_resource_server_id'), ['resource_server_id'], unique=False)

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2048), nullable=True))

    with op.batch_alter_table('token_families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2048), nullable=True))

    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('act', sa.JSON(), nullable=True))
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade() -> None:
    # Tokens without a person cannot be kept by the old schema; they are an agency's own, re-issued on demand.
    op.execute("DELETE FROM tokens WHERE user_id IS NULL")
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('act')
        batch_op.drop_column('resource')

    with op.batch_alter_table('token_families', schema=None) as batch_op:
        batch_op.drop_column('resource')

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('resource')

    with op.batch_alter_table('exchange_permissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_permissions_resource_server_id'))
        batch_op.drop_index(batch_op.f('ix_exchange_permissions_client_id'))

    op.drop_table('exchange_permissions')
    with op.batch_alter_table('data_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_uses_user_id'))

    op.drop_table('data_uses')
    op.drop_table('resource_servers')
    op.drop_table('machine_access')
