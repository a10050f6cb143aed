"""token families: a revocation mark that covers tokens written after it (issue 10 §4)

Every code gets a ``token_families`` row when it is issued; a second redemption of the code or
of a refresh token marks the row revoked, and every token of the family counts as revoked.

Revision ID: 0006_token_families
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0006_token_families'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'token_families',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', idp.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_token_families')),
    )
    # A family for every code and every token already there; tokens revoked with the whole
    # family before this revision stay revoked one by one (their own revoked_at).
    op.execute("INSERT INTO token_families (id, created_at) "
               "SELECT 'code:' || CAST(id AS VARCHAR(20)), created_at FROM authorization_codes")
    op.execute("INSERT INTO token_families (id, created_at) "
               "SELECT family, MIN(issued_at) FROM tokens "
               "WHERE family NOT IN (SELECT id FROM token_families) GROUP BY family")
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_tokens_family_token_families'),
                                    'token_families', ['family'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tokens_family_token_families'), type_='foreignkey')
    # Revocation marks that only the family row held go onto the tokens, so nothing comes back to life.
    op.execute("UPDATE tokens SET revoked_at = (SELECT revoked_at FROM token_families f WHERE f.id = tokens.family) "
               "WHERE revoked_at IS NULL AND family IN (SELECT id FROM token_families WHERE revoked_at IS NOT NULL)")
    op.drop_table('token_families')
