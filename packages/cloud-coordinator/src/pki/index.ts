export { ProjectCa, NODE_VALID_DAYS, type IssuedCertificate, type IssueRequest } from './ca.js';
export { enrollNode, checkEnrollRequest, type EnrollRequest } from './enroll.js';
export { serverCredential, defaultServerHosts } from './server-cert.js';
