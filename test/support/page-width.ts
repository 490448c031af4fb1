/**
 * What sticks out of a phone-width viewport: the document's scrollWidth, and every laid-out element
 * whose right edge (or left edge) lies outside the viewport, named so a failure says which.
 */
import type { Page } from 'playwright-core';

export interface WidthReport {
  viewport: number;
  scrollWidth: number;
  /** `tag#id.class "text…" left→right`, for each element outside the viewport. */
  outside: string[];
  /** How many elements were measured (a check over nothing would prove nothing). */
  measured: number;
}

// A string, so the test project needs no DOM typings; runs in the page.
const MEASURE = `(() => {
  const width = window.innerWidth;
  const outside = [];
  let measured = 0;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not laid out (hidden)
    measured++;
    if (r.right > width + 0.5 || r.left < -0.5) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.classList.length ? '.' + [...el.classList].join('.') : '');
      outside.push(name + ' "' + (el.textContent || '').trim().slice(0, 30) + '" ' + Math.round(r.left) + '→' + Math.round(r.right));
    }
  }
  return { viewport: width, scrollWidth: document.documentElement.scrollWidth, outside, measured };
})()`;

export async function measureWidth(page: Page): Promise<WidthReport> {
  return (await page.evaluate(MEASURE)) as WidthReport;
}
