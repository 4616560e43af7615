"""catalogue: captures, warc files, records

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:47:53.205078
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('warc_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('storage_backend', sa.String(length=32), nullable=True),
    sa.Column('storage_key', sa.String(length=512), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('record_count', sa.Integer(), nullable=True),
    sa.Column('hostname', sa.String(length=255), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('filename')
    )
    op.create_table('captures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('submitted_by', sa.String(length=255), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('requested_url', sa.Text(), nullable=False),
    sa.Column('final_url', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('task_id', sa.String(length=255), nullable=True),
    sa.Column('worker_host', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('software', sa.JSON(), nullable=True),
    sa.Column('redirect_chain', sa.JSON(), nullable=True),
    sa.Column('server_ip', sa.String(length=64), nullable=True),
    sa.Column('server_port', sa.Integer(), nullable=True),
    sa.Column('tls_version', sa.String(length=32), nullable=True),
    sa.Column('tls_cipher', sa.String(length=128), nullable=True),
    sa.Column('cert_sha256', sa.String(length=64), nullable=True),
    sa.Column('cert_subject', sa.Text(), nullable=True),
    sa.Column('cert_issuer', sa.Text(), nullable=True),
    sa.Column('cert_not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cert_not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('http_headers', sa.JSON(), nullable=True),
    sa.Column('content_type', sa.String(length=255), nullable=True),
    sa.Column('payload_size', sa.BigInteger(), nullable=True),
    sa.Column('payload_sha256', sa.String(length=64), nullable=True),
    sa.Column('truncated', sa.String(length=16), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('text_sha256', sa.String(length=64), nullable=True),
    sa.Column('text_reason', sa.Text(), nullable=True),
    sa.Column('text_metadata', sa.JSON(), nullable=True),
    sa.Column('extractor', sa.String(length=64), nullable=True),
    sa.Column('warc_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['warc_file_id'], ['warc_files.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.create_index('ix_captures_requested_url', ['requested_url'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_state'), ['state'], unique=False)

    op.create_table('capture_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=False),
    sa.Column('warc_file_id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('target_uri', sa.Text(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('block_digest', sa.String(length=80), nullable=True),
    sa.Column('payload_digest', sa.String(length=80), nullable=True),
    sa.Column('refers_to', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warc_file_id'], ['warc_files.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record_id')
    )
    with op.batch_alter_table('capture_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_records_capture_id'), ['capture_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('capture_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_records_capture_id'))

    op.drop_table('capture_records')
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captures_state'))
        batch_op.drop_index('ix_captures_requested_url')

    op.drop_table('captures')
    op.drop_table('warc_files')
