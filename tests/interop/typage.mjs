// Seal or open one file with typage, for tests/test_pq.py:
//   node typage.mjs encrypt RECIPIENT IN OUT
//   node typage.mjs decrypt IDENTITY IN OUT
//   node typage.mjs keygen            (prints the identity, then its recipient)
import { readFileSync, writeFileSync } from "node:fs";
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";

const [mode, key, input, output] = process.argv.slice(2);
if (mode === "keygen") {
  const identity = await generateHybridIdentity();
  console.log(identity);
  console.log(await identityToRecipient(identity));
} else if (mode === "encrypt") {
  const e = new Encrypter();
  e.addRecipient(key);
  writeFileSync(output, await e.encrypt(readFileSync(input)));
} else if (mode === "decrypt") {
  const d = new Decrypter();
  d.addIdentity(key);
  writeFileSync(output, await d.decrypt(readFileSync(input)));
} else {
  console.error("usage: typage.mjs keygen | encrypt RECIPIENT IN OUT | decrypt IDENTITY IN OUT");
  process.exit(2);
}
