import { inspect } from 'node:util';
import { describe, it, expect } from 'vitest';
import { CamsError, classifyCamsError, isCamsError } from '../src/cams/cams-error.js';

describe('classifyCamsError', () => {
  it.each([
    ['System.LimitControl', 400],
    ['Throttling', 400],
    ['Throttling.User', 400],
    ['Throttling.Api', 503],
    ['SomethingNew', 429],
    ['HTTP.429', 429],
  ])('treats %s (HTTP %s) as throttled', (code, status) => {
    expect(classifyCamsError(code, status)).toEqual({ classification: 'throttled', scope: null });
  });

  it.each([
    'Product.Unsubscript',
    'Ram.PermissionDeny',
    'Forbidden.RAM',
    'Forbidden',
    'Forbidden.AccessKeyDisabled',
    'InvalidAccessKeyId.NotFound',
    'InvalidAccessKeyId.Inactive',
    'SignatureDoesNotMatch',
    'IncompleteSignature',
    'InvalidTimeStamp.Format',
  ])('pauses the whole account on %s', (code) => {
    expect(classifyCamsError(code, 400)).toEqual({ classification: 'permanent', scope: 'account' });
  });

  it("treats InvalidTimeStamp.Expired as this machine's clock, not the account", () => {
    expect(classifyCamsError('InvalidTimeStamp.Expired', 400)).toEqual({
      classification: 'permanent',
      scope: 'clock',
    });
  });

  it.each([
    'Unknown.ResourceOwnerId',
    'InvalidParameter',
    'InvalidParameter.PhoneNumber',
    'MissingParameter',
    'MissingPhoneNumber',
    'InvalidPhoneNumber.Format',
    'InvalidCustSpaceId.NotFound',
    'Response.NoData',
  ])('fails only this number on %s', (code) => {
    expect(classifyCamsError(code, 400)).toEqual({ classification: 'permanent', scope: 'number' });
  });

  it.each([
    ['ServiceUnavailable', 503],
    ['InternalError', 500],
    ['SignatureNonceUsed', 400],
    ['HTTP.502', 502],
    ['Transport.Timeout', undefined],
    ['Transport.ConnectionReset', undefined],
    ['Transport.ConnectionRefused', undefined],
    ['Transport.Unknown', undefined],
    ['Some.CodeNobodyKnows', 400],
  ])('retries %s (HTTP %s) as transient', (code, status) => {
    expect(classifyCamsError(code, status)).toEqual({ classification: 'transient', scope: null });
  });

  it('decides by code before HTTP status', () => {
    expect(classifyCamsError('System.LimitControl', 200).classification).toBe('throttled');
    expect(classifyCamsError('SignatureDoesNotMatch', 500)).toEqual({
      classification: 'permanent',
      scope: 'account',
    });
  });

  it('does not mistake a code that merely contains a listed word', () => {
    expect(classifyCamsError('NotForbidden', 400).classification).toBe('transient');
    expect(classifyCamsError('System.LimitControlled', 400).classification).toBe('transient');
  });
});

describe('CamsError', () => {
  it('carries the upstream fields and a one-line message', () => {
    const err = new CamsError({
      code: 'System.LimitControl',
      upstreamMessage: 'The system is under flow control.\n',
      requestId: 'ABC',
      httpStatus: 400,
    });
    expect(err).toBeInstanceOf(Error);
    expect(isCamsError(err)).toBe(true);
    expect(err.name).toBe('CamsError');
    expect(err.message).toBe(
      'CAMS System.LimitControl (HTTP 400, RequestId ABC): The system is under flow control.',
    );
    expect(err.upstreamMessage).toBe('The system is under flow control.');
    expect(err.classification).toBe('throttled');
    expect(err.scope).toBeNull();
    expect(String(err)).toBe(`CamsError: ${err.message}`);
  });

  it('leaves out the parts it does not know', () => {
    const err = new CamsError({ code: 'Transport.Timeout', upstreamMessage: 'no answer' });
    expect(err.message).toBe('CAMS Transport.Timeout: no answer');
    expect(err.httpStatus).toBeUndefined();
    expect(err.requestId).toBeUndefined();
  });

  it('masks phone numbers an upstream message echoes', () => {
    const err = new CamsError({
      code: 'InvalidPhoneNumber',
      upstreamMessage: 'The PhoneNumber 8613800001234 is not valid.',
      httpStatus: 400,
    });
    expect(err.message).not.toContain('8613800001234');
    expect(err.upstreamMessage).toContain('8613*******34');
    expect(inspect(err)).not.toContain('8613800001234');
  });

  it('never masks a RequestId, whatever digit runs it holds', () => {
    const requestId = '5E4A3B2C-9D1F-4E2A-8B7C-1563076C3F46';
    const err = new CamsError({
      code: 'InternalError',
      upstreamMessage: `The request ${requestId} failed.`,
      requestId,
      httpStatus: 500,
      phoneNumber: '8613800001234',
    });
    expect(err.requestId).toBe(requestId);
    expect(err.message).toBe(
      `CAMS InternalError (HTTP 500, RequestId ${requestId}): The request ${requestId} failed.`,
    );
  });

  it('masks the number being processed wherever the message echoes it, and nothing else', () => {
    const err = new CamsError({
      code: 'InvalidParameter',
      upstreamMessage: 'Number +8613800001234 in space 2934839388494 was refused (8613800001234).',
      httpStatus: 400,
      phoneNumber: '8613800001234',
    });
    expect(err.upstreamMessage).toBe(
      'Number +8613*******34 in space 2934839388494 was refused (8613*******34).',
    );
    expect(JSON.stringify(err)).not.toContain('8613800001234');
    expect(inspect(err)).not.toContain('8613800001234');
  });

  it('serialises to JSON with its fields', () => {
    const err = new CamsError({
      code: 'Unknown.ResourceOwnerId',
      upstreamMessage: 'x',
      requestId: 'R1',
      httpStatus: 400,
    });
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({
      name: 'CamsError',
      code: 'Unknown.ResourceOwnerId',
      requestId: 'R1',
      httpStatus: 400,
      classification: 'permanent',
      scope: 'number',
    });
  });
});
