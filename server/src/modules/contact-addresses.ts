// XEP-0157: Contact Addresses for XMPP Services
// https://xmpp.org/extensions/xep-0157.html
// Version 1.1.1 (2022-02-24)
//
// The server's disco#info carries the contact addresses of config `contact` as an XEP-0128
// form (xmpp/xep0157.ts). contact.admin defaults to the `admins` as xmpp: URIs. Kinds with no
// address are left out; with none at all there is no form.
import { defineModule } from '../core/module.js';
import { serverInfoForm } from '../xmpp/xep0157.js';

export default defineModule({
  name: 'contact-addresses',
  spec: 'XEP-0157: Contact Addresses for XMPP Services',
  load(api) {
    const c = api.config.contact;
    const admin = c.admin.length > 0 ? c.admin : api.config.admins.map((j) => `xmpp:${j}`);
    const form = serverInfoForm({ admin, abuse: c.abuse, support: c.support, security: c.security });
    if (form) api.disco.addExtension(form);
  },
});
