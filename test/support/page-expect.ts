/**
 * Bounded polls of what a page shows, then one assertion, so a failure shows what was last seen
 * rather than a timeout.
 */
import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';

type Locator = ReturnType<Page['locator']>;

/** Polls a locator's text until it matches (bounded), then asserts. */
export async function expectText(locator: Locator, pattern: RegExp, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = (
      await locator
        .first()
        .innerText()
        .catch(() => '')
    ).trim();
    if (pattern.test(text)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(text).toMatch(pattern);
}

/** Polls until the locator matches `n` elements (bounded), then asserts. */
export async function expectCount(locator: Locator, n: number, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  while (Date.now() < deadline) {
    count = await locator.count();
    if (count === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(count).toBe(n);
}
