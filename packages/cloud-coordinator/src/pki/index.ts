export { ProjectCa, NODE_VALID_DAYS, type IssuedCertificate, type IssueRequest } from './ca.js';
export { enrollNode, checkEnrollRequest, writeBundleFile, enrolledEvent, revokedEvent, type EnrollRequest, type IdentityEvent } from './enroll.js';
export { serverCredential, defaultServerHosts } from './server-cert.js';
