// XEP-0004: Data Forms
// https://xmpp.org/extensions/xep-0004.html
// Version 2.13.2 (2024-10-22)
//
// Helpers (not a module) to build forms for replies and read submitted ones. Disco extension
// forms (XEP-0128), registration, MUC configuration and MAM queries all go through these.
import { Element, xml } from '../xml/element.js';
import { NS_DATA, type DataForm, type FieldType, type FormField, type FormType } from '../xmpp/xep0004.js';

export { NS_DATA };
export type { DataForm, FieldType, FormField, FormType };

/** Serializes a form as <x xmlns='jabber:x:data'/>. */
export function buildForm(form: DataForm): Element {
  const x = xml('x', { xmlns: NS_DATA, type: form.type });
  if (form.title !== undefined) x.c('title').t(form.title);
  for (const i of form.instructions ?? []) x.c('instructions').t(i);
  for (const f of form.fields) x.append(buildField(f));
  return x;
}

export function buildField(f: FormField): Element {
  const el = xml('field', { var: f.var, type: f.type, label: f.label });
  if (f.desc !== undefined) el.c('desc').t(f.desc);
  if (f.required) el.c('required');
  for (const v of f.values) el.c('value').t(v);
  for (const o of f.options ?? []) el.c('option', { label: o.label }).c('value').t(o.value);
  return el;
}

/** Shorthand for the usual result form: a hidden FORM_TYPE plus plain fields. */
export function simpleForm(
  formType: string,
  fields: Record<string, string | string[] | boolean>,
  type: FormType = 'result',
): Element {
  const list: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [formType] }];
  for (const [name, v] of Object.entries(fields)) {
    const values = typeof v === 'boolean' ? [v ? '1' : '0'] : Array.isArray(v) ? v : [v];
    list.push({ var: name, values });
  }
  return buildForm({ type, fields: list });
}

/** Parses an <x xmlns='jabber:x:data'/>; undefined when `x` is not a data form. */
export function parseForm(x: Element | undefined): DataForm | undefined {
  if (!x || x.name !== 'x' || x.attrs.xmlns !== NS_DATA) return undefined;
  const type = (x.attrs.type ?? 'form') as FormType;
  const form: DataForm = { type, fields: [] };
  const title = x.getChildText('title');
  if (title !== undefined) form.title = title;
  const instructions = x.getChildren('instructions').map((i) => i.text());
  if (instructions.length > 0) form.instructions = instructions;
  for (const f of x.getChildren('field')) {
    const field: FormField = { values: f.getChildren('value').map((v) => v.text()) };
    if (f.attrs.var !== undefined) field.var = f.attrs.var;
    if (f.attrs.type !== undefined) field.type = f.attrs.type as FieldType;
    if (f.attrs.label !== undefined) field.label = f.attrs.label;
    const desc = f.getChildText('desc');
    if (desc !== undefined) field.desc = desc;
    if (f.getChild('required')) field.required = true;
    const options = f.getChildren('option').map((o) => ({ label: o.attrs.label, value: o.getChildText('value') ?? '' }));
    if (options.length > 0) field.options = options.map((o) => (o.label === undefined ? { value: o.value } : { label: o.label, value: o.value }));
    form.fields.push(field);
  }
  return form;
}

/** The form's FORM_TYPE (XEP-0068): the value of the field var='FORM_TYPE'. */
export function formType(form: DataForm): string | undefined {
  return form.fields.find((f) => f.var === 'FORM_TYPE')?.values[0];
}

/** Field values by var, for reading a submitted form. */
export function formValues(form: DataForm): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of form.fields) if (f.var !== undefined) m.set(f.var, f.values);
  return m;
}

/** First value of a field. */
export function formValue(form: DataForm, name: string): string | undefined {
  return form.fields.find((f) => f.var === name)?.values[0];
}

/** XEP-0004 §3.3: boolean fields accept "1"/"true" and "0"/"false". */
export function parseBoolean(v: string | undefined): boolean | undefined {
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return undefined;
}
