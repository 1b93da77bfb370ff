// Types for tr46 6.0.0 (UTS #46 processing; the package ships none). Only what Roost uses.
declare module 'tr46' {
  export interface Tr46Options {
    checkBidi?: boolean;
    checkHyphens?: boolean;
    checkJoiners?: boolean;
    ignoreInvalidPunycode?: boolean;
    transitionalProcessing?: boolean;
    useSTD3ASCIIRules?: boolean;
    verifyDNSLength?: boolean;
  }
  export function toASCII(domainName: string, options?: Tr46Options): string | null;
  export function toUnicode(domainName: string, options?: Tr46Options): { domain: string; error: boolean };
  const tr46: { toASCII: typeof toASCII; toUnicode: typeof toUnicode };
  export default tr46;
}

// tr46's regular expressions generated from the Unicode 17 data files (Bidi_Class,
// Canonical_Combining_Class = Virama, Joining_Type), which JS property escapes cannot express.
declare module 'tr46/lib/regexes.js' {
  const regexes: {
    combiningMarks: RegExp;
    combiningClassVirama: RegExp;
    validZWNJ: RegExp;
    bidiDomain: RegExp;
    bidiS1LTR: RegExp;
    bidiS1RTL: RegExp;
    bidiS2: RegExp;
    bidiS3: RegExp;
    bidiS4EN: RegExp;
    bidiS4AN: RegExp;
    bidiS5: RegExp;
    bidiS6: RegExp;
  };
  export default regexes;
}
