// The modules every host loads (unless listed in config modules.disabled), in load order.
import type { ModuleDefinition } from '../core/module.js';
import disco from './disco.js';
import ping from './ping.js';
import version from './version.js';
import time from './time.js';
import last from './last.js';
import vcard from './vcard.js';
import privateStorage from './private.js';
import register from './register.js';
import invites from './invites/index.js';
import roster from './roster.js';
import presence from './presence.js';
import messages from './messages.js';
import offline from './offline.js';
import muc from './muc/index.js';
import blocking from './blocking.js';
import carbons from './carbons.js';
import mam from './mam/index.js';
import spamReporting from './spam-reporting.js';
import extdisco from './extdisco.js';
import contactAddresses from './contact-addresses.js';
import pep from './pep/index.js';
import bookmarks from './bookmarks.js';
import vcardAvatar from './vcard-avatar.js';
import avatarConversion from './avatar-conversion.js';
import push from './push/index.js';
import upload from './upload/index.js';

export const builtinModules: ModuleDefinition[] = [
  disco,
  ping,
  version,
  time,
  last,
  vcard,
  privateStorage,
  register,
  invites,
  roster,
  presence,
  messages,
  offline,
  blocking,
  carbons,
  mam,
  spamReporting,
  extdisco,
  contactAddresses,
  pep,
  bookmarks,
  vcardAvatar,
  avatarConversion,
  muc,
  push,
  upload,
];
