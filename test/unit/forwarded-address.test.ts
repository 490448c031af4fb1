/** Which client a per-address limit counts against, on every listener. */
import { clientAddressOf, isLoopbackHost, lastForwardedAddress } from '../../shared/forwarded-address.js';

describe('forwarded client address', () => {
  test('a remote peer is counted as itself, whatever X-Forwarded-For claims', () => {
    expect(clientAddressOf('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(clientAddressOf('::ffff:203.0.113.9', undefined)).toBe('203.0.113.9');
  });

  test('behind a proxy on this host, the last forwarded entry counts (the one the proxy appended)', () => {
    expect(clientAddressOf('127.0.0.1', 'forged, 198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddressOf('::1', ' 198.51.100.8 ')).toBe('198.51.100.8');
  });

  test('a loopback peer without a forwarded address is itself', () => {
    expect(clientAddressOf('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(clientAddressOf('127.0.0.1', ' , ')).toBe('127.0.0.1');
    expect(clientAddressOf(undefined, undefined)).toBe('unknown');
  });

  test('loopback names and addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
  });

  test('the last entry of a list', () => {
    expect(lastForwardedAddress('a, b,c')).toBe('c');
    expect(lastForwardedAddress(undefined)).toBeUndefined();
  });
});
