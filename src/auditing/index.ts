export { businessKey, fieldDiff, fromJson, META_FIELDS, OBJECT_TYPES, toJson, type FieldChange, type ObjectFields, type ObjectMeta, type ObjectReference, type ObjectType } from './object.ts';
export { ObjectStore, snapshot, type ObjectKind, type ObjectWrite, type ObjectWriteHook, type WriteAction, type WriteOptions } from './object-store.ts';
export { findByRef, type RefLookup } from './object-ref.ts';
