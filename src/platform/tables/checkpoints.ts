import type { CreatedOnly } from './columns.ts';

/** Tables of the event log's signed checkpoints (migration 0013). */
export interface CheckpointTables {
  checkpoint: CheckpointTable;
  checkpoint_cosignature: CheckpointCosignatureTable;
}

export interface CheckpointTable {
  tree_size: CreatedOnly<number>;
  root_hash: CreatedOnly<string>;
  origin: CreatedOnly<string>;
  key_id: CreatedOnly<string>;
  note: CreatedOnly<string>;
  created_at: CreatedOnly<Date>;
}

export interface CheckpointCosignatureTable {
  tree_size: CreatedOnly<number>;
  witness: CreatedOnly<string>;
  key_name: CreatedOnly<string>;
  key_id: CreatedOnly<string>;
  signature_line: CreatedOnly<string>;
  received_at: CreatedOnly<Date>;
}
