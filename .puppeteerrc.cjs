// memlab (a dev dependency, the reference for heap-snapshot analysis) pulls in puppeteer; we never drive a
// browser, and CI cannot download one.
module.exports = { skipDownload: true };
