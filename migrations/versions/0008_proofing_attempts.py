"""proofing attempts: a typo may be corrected, a birth date may not be guessed (issue 11)

One row per remote submission the registry did not match (or is still checking), counted per
account and per document number (a keyed digest, never the number) over 24 hours.

Revision ID: 0008_proofing_attempts
Revises: 0007_password_resets
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import idp.db

revision = '0008_proofing_attempts'
down_revision = '0007_password_resets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'proofing_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('document_digest', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('created_at', idp.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['proofing_cases.id'],
                                name=op.f('fk_proofing_attempts_case_id_proofing_cases'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_proofing_attempts_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_proofing_attempts')),
    )
    with op.batch_alter_table('proofing_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_attempts_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_attempts_document_digest'), ['document_digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_attempts_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('proofing_attempts')
