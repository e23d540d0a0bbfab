import type { Executor } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { findApplication, findPartitionByName } from './partition.store.ts';
import { GLOBAL_PARTITION } from './partition.ts';

/** Where an object lives: its partition and, optionally, its application. */
export interface Place {
  readonly partitionId: string;
  readonly partitionName: string;
  readonly applicationId: string | null;
}

/**
 * Resolves the partition (default GLOBAL) and application names a caller gave for a new or moved
 * object; a name that does not exist is a 400 naming the field.
 */
export async function resolvePlace(db: Executor, names: { partition?: string; application?: string | null }): Promise<Place> {
  const partitionName = names.partition ?? GLOBAL_PARTITION;
  const partition = await findPartitionByName(db, partitionName);
  if (!partition) throw errors.validation(`Partition "${partitionName}" does not exist.`, [{ path: '/partition', message: 'no such partition' }]);
  if (!names.application) return { partitionId: partition.id, partitionName, applicationId: null };
  const application = await findApplication(db, partition.id, names.application);
  if (!application) {
    throw errors.validation(`Application "${names.application}" does not exist in partition ${partitionName}.`, [
      { path: '/application', message: 'no such application in this partition' },
    ]);
  }
  return { partitionId: partition.id, partitionName, applicationId: application.id };
}
