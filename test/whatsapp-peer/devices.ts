/**
 * Companion devices linked to the own account. They live as long as the peer: a client that
 * restarts with the same creds logs in again without pairing.
 */
export interface LinkedDevice {
  /** e.g. 15550001111:1@s.whatsapp.net */
  jid: string;
  /** e.g. 123456789012345:1@lid */
  lid: string;
  device: number;
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  platform: string;
  pairedBy: 'qr' | 'code';
  removed: boolean;
  /** pre-keys the device uploaded with `encrypt` set */
  uploadedPreKeys: number;
}

export class LinkedDevices {
  /** key: `${user}:${device}` */
  private readonly byUserDevice = new Map<string, LinkedDevice>();
  private nextDeviceId = 1;
  private nextKeyIndex = 1;

  /** the device number and ADV key index for the next pairing */
  allocate(): { deviceId: number; keyIndex: number } {
    return { deviceId: this.nextDeviceId++, keyIndex: this.nextKeyIndex++ };
  }

  add(user: string, dev: LinkedDevice): void {
    this.byUserDevice.set(`${user}:${dev.device}`, dev);
  }

  get(user: string, device: number): LinkedDevice | undefined {
    return this.byUserDevice.get(`${user}:${device}`);
  }

  /** marks the device removed: its next login gets `<failure reason=401>` */
  unlink(jid: string | undefined): void {
    const dev = this.list().find((d) => d.jid === jid);
    if (dev) dev.removed = true;
  }

  list(): LinkedDevice[] {
    return [...this.byUserDevice.values()];
  }
}
