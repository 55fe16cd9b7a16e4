// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/*
 * HostileRecipient - for tests only: a release's recipient that refuses native coin on purpose,
 * to show that CollateralVault's payments cannot be used against the executors that send them.
 * Its mode decides what receive() does:
 *
 *   0 accept    takes the coin (a well-behaved smart-contract wallet)
 *   1 revert    refuses it with Refused()
 *   2 burn      consumes every unit of gas it is given (the INVALID opcode)
 *
 * Anyone may change the mode. claimFrom(vault, asset) calls vault.claim(asset) as this contract,
 * so a deferred payment can be claimed once the mode is back to accept.
 */

interface IClaimable {
    function claim(address asset) external;
}

contract HostileRecipient {
    uint8 public constant ACCEPT = 0;
    uint8 public constant REVERT = 1;
    uint8 public constant BURN = 2;

    uint8 public mode;

    error Refused();

    constructor(uint8 mode_) {
        mode = mode_;
    }

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function claimFrom(address vault, address asset) external {
        IClaimable(vault).claim(asset);
    }

    receive() external payable {
        uint8 m = mode;
        if (m == REVERT) revert Refused();
        if (m == BURN) {
            assembly {
                invalid()
            }
        }
    }
}
