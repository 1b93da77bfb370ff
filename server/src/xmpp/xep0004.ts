// XEP-0004: Data Forms
// https://xmpp.org/extensions/xep-0004.html
// Version 2.13.2 (2024-10-22)
//
// Typed view of jabber:x:data forms: building them for replies and parsing submitted ones.
export const NS_DATA = 'jabber:x:data';

export type FormType = 'form' | 'submit' | 'cancel' | 'result';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single'
  | 'text-multi' | 'text-private' | 'text-single';

export interface FormOption {
  label?: string;
  value: string;
}

export interface FormField {
  var?: string;
  type?: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  values: string[];
  options?: FormOption[];
}

export interface DataForm {
  type: FormType;
  title?: string;
  instructions?: string[];
  fields: FormField[];
}
