import { expect, test, type Page } from '@playwright/test';
import { messages, nickname, openChat, unique } from './helpers';

/** A PNG the page draws itself (300 × 200, one colour), as a File. */
async function pastePicture(page: Page, name: string) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.focus();
  await page.evaluate(async (fileName) => {
    const canvas = document.createElement('canvas');
    canvas.width = 300;
    canvas.height = 200;
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#1f6f5c';
    ctx.fillRect(0, 0, 300, 200);
    const blob: Blob = await new Promise((done) => canvas.toBlob((b) => done(b!), 'image/png'));
    const data = new DataTransfer();
    data.items.add(new File([blob], fileName, { type: 'image/png' }));
    const input = document.querySelector('.composer input[name="text"]')!;
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, name);
}

/** Drops a small PDF onto the conversation, as a file dragged from the desktop. */
async function dropPdf(page: Page, name: string) {
  await page.evaluate((fileName) => {
    const data = new DataTransfer();
    const body = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n';
    data.items.add(new File([body], fileName, { type: 'application/pdf' }));
    const list = document.querySelector('ul.messages')!;
    list.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    list.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, name);
}

test('a pasted picture and a dropped PDF reach the other browser, and the picture opens full size', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const tag = unique('files');

  await pastePicture(ana.page, 'screenshot.png');
  await dropPdf(ana.page, 'report.pdf');
  const attachments = ana.page.getByRole('list', { name: 'Attachments' }).getByRole('listitem');
  await expect(attachments).toHaveCount(2);
  await expect(attachments.filter({ hasText: 'screenshot.png' })).toBeVisible();
  // Each finished upload shows its size in place of its progress bar.
  await expect(ana.page.locator('.attachment-ready')).toHaveCount(2);
  await expect(ana.page.locator('.attachment progress')).toHaveCount(0);

  const box = ana.page.getByRole('textbox', { name: 'Message' });
  await box.fill(tag);
  await box.press('Enter');
  await expect(attachments).toHaveCount(0);

  for (const page of [ana.page, bo.page]) {
    const line = messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(line).toHaveCount(1);
    const preview = line.locator('a.file-picture img');
    await expect(preview).toBeVisible();
    // The preview's box is reserved from the picture's size before it loads.
    await expect(preview).toHaveAttribute('width', '300');
    await expect(preview).toHaveAttribute('height', '200');
    await expect(preview).toHaveAttribute('loading', 'lazy');
    const chip = line.locator('a.file-chip');
    await expect(chip).toContainText('report.pdf');
    await expect(chip).toContainText('application/pdf');
    await expect(chip).toHaveAttribute('download', 'report.pdf');
  }

  // Bo opens the picture full size from the keyboard, and Escape closes it.
  const line = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await line.locator('a.file-picture').focus();
  await bo.page.keyboard.press('Enter');
  const lightbox = bo.page.locator('dialog.lightbox');
  await expect(lightbox).toBeVisible();
  await expect
    .poll(() => lightbox.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(300);
  await bo.page.keyboard.press('Escape');
  await expect(lightbox).toBeHidden();

  // The reloaded page (rendered on the server) shows both files too.
  await bo.page.reload();
  const stored = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(stored.locator('a.file-picture img')).toBeVisible();
  await expect(stored.locator('a.file-chip')).toContainText('report.pdf');

  expect(ana.errors).toEqual([]);
  expect(bo.errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});

test('the form without JavaScript posts a file', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Nickname').fill(nickname('nojs'));
  await page.getByRole('button', { name: 'Join' }).click();
  const tag = unique('nojs-file');
  await page.locator('.composer input[type="file"]').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('written without JavaScript\n'),
  });
  await page.getByRole('textbox', { name: 'Message' }).fill(tag);
  await page.getByRole('button', { name: 'Send' }).click();
  const line = messages(page).getByRole('listitem').filter({ hasText: tag });
  await expect(line).toHaveCount(1);
  const chip = line.locator('a.file-chip');
  await expect(chip).toContainText('notes.txt');
  const href = await chip.getAttribute('href');
  const served = await page.request.get(href!);
  expect(served.status()).toBe(200);
  expect(await served.text()).toBe('written without JavaScript\n');
  await context.close();
});

test('a picture set in one browser appears in the other\'s online list and beside messages', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const anaRow = bo.page.getByRole('list', { name: 'Online' }).getByRole('listitem').filter({ hasText: ana.nick });
  const picture = anaRow.locator('img.avatar');
  // Until she sets one: her initials, drawn by the server (a 64 × 64 SVG).
  await expect(picture).toHaveAttribute('src', `/avatars/${encodeURIComponent(ana.nick)}`);
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(64);

  // A 300 × 200 picture, drawn by the page, chosen from her own picture in the online list.
  const png = await ana.page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 300;
    canvas.height = 200;
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#c2410c';
    ctx.fillRect(0, 0, 300, 200);
    return canvas.toDataURL('image/png').split(',')[1];
  });
  await ana.page
    .getByLabel('Change your picture')
    .setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });

  // Bo sees it without reloading: a new address, a square picture.
  await expect(picture).toHaveAttribute('src', /\?v=/);
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(128);
  // And beside what she writes.
  const tag = unique('pictured');
  const box = ana.page.getByRole('textbox', { name: 'Message' });
  await box.fill(tag);
  await box.press('Enter');
  const line = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(line.locator('img.avatar')).toHaveAttribute('src', /\?v=/);
  // Her own page shows it too.
  await expect(ana.page.getByRole('list', { name: 'Online' }).locator('img.avatar').first()).toHaveAttribute('src', /\?v=/);
});
