export type { Credential, CredentialView } from './credential.ts';
export { CredentialService, type NewCredential, type SecretInput, type UnsealedCredential } from './credential.service.ts';
export { credentialsOfDevice } from './credential.store.ts';
export type { Device, DeviceView } from './device.ts';
export { DeviceService, findDeviceByRef, hostKeyMismatch, type NewDevice } from './device.service.ts';
export { findDevice, findDevicesByIds } from './device.store.ts';
export { sshHostKeyProbe, type HostKeyProbe } from './host-key-probe.ts';
export { inventoryRoutes } from './inventory.routes.ts';
export { findCredential } from './credential.store.ts';
