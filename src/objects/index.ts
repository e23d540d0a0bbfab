export { findByRef, type RefLookup } from './object-ref.ts';
export { ObjectStore, snapshot, type ApplicationUser, type ObjectKind, type ObjectWrite, type ObjectWriteHook, type Placement, type WriteAction, type WriteOptions } from './object-store.ts';
export { objectStamps } from './object.views.ts';
export { businessKey, fieldDiff, fromJson, META_FIELDS, OBJECT_TYPES, toJson, type FieldChange, type ObjectFields, type ObjectMeta, type ObjectReference, type ObjectType } from './object.ts';
export {
  applicationKind,
  findApplication,
  findApplicationObject,
  findApplicationsByIds,
  findPartitionByName,
  findPartitionObject,
  globalPartitionId,
  partitionKind,
  partitionName,
  partitionNamesByIds,
  type ApplicationWithPartition,
} from './partition.store.ts';
export { APPLICATION_NAME, GLOBAL_PARTITION, PARTITION_NAME, type Application, type Partition } from './partition.ts';
export { resolvePlace, type Place } from './place.ts';
export { bookkeeping, objectTable, tableWriter, type ObjectQuery, type ObjectTable } from './object-table.ts';
