export { businessKey, fieldDiff, OBJECT_TYPES, toJson, type ObjectFields, type ObjectMeta, type ObjectType } from './object.ts';
export { ObjectStore, snapshot, type ObjectKind, type ObjectWrite, type ObjectWriteHook, type WriteAction, type WriteOptions } from './object-store.ts';
export { findByRef, type RefLookup } from './object-ref.ts';
